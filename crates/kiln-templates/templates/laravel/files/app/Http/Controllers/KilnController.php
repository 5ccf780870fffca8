<?php

namespace App\Http\Controllers;

use App\Support\KilnBrief;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Response;
use Illuminate\Support\Facades\DB;
use Illuminate\Support\Facades\Log;
use Illuminate\View\View;
use Throwable;

/** The pages every Kiln app serves: the brief, a health check and the build stamp. */
class KilnController extends Controller
{
    public function home(): View
    {
        return view('home', ['kiln' => KilnBrief::load(config('kiln.brief_file'))]);
    }

    /** 200 only when the database answers, so a deploy with a broken database is caught. */
    public function health(): JsonResponse
    {
        try {
            DB::connection()->select('SELECT 1');

            return response()->json(['status' => 'ok', 'database' => 'ok']);
        } catch (Throwable $error) {
            // Driver messages can name hosts and users: log them, do not return them.
            Log::error('health check: database unavailable', ['error' => $error->getMessage()]);

            return response()->json(['status' => 'unavailable', 'database' => 'unreachable'], 503);
        }
    }

    public function version(): Response
    {
        return response((string) config('kiln.build_sha'), 200, ['Content-Type' => 'text/plain; charset=UTF-8']);
    }
}
