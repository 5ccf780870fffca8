<?php

// Values Kiln provides to the app: the build stamp and where the planned brief lives.

return [

    // The deployed commit; served at /__kiln/version.
    'build_sha' => env('KILN_BUILD_SHA') ?: 'dev',

    // Brief and stories as data, rendered escaped by resources/views/home.blade.php.
    'brief_file' => base_path('kiln.json'),

];
