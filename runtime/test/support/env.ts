// Quiet Powertools in tests unless a test turns it on: logs and EMF metrics would
// otherwise fill the output. Tests that assert on them set these themselves.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
