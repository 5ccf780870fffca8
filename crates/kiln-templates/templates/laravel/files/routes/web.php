<?php

use App\Http\Controllers\KilnController;
use Illuminate\Support\Facades\Route;

Route::get('/', [KilnController::class, 'home']);
Route::get('/healthz', [KilnController::class, 'health']);
Route::get('/__kiln/version', [KilnController::class, 'version']);
