// Types of build-ui.mjs for the TypeScript tests that build the dashboard into a temporary dir.
export function buildDashboard(outdir: string): Promise<{ js: string; css: string; icon: string }>
