/**
 * Where flopledger's own files live. Presets ship in <root>/models next to package.json, and the
 * code runs from src/ (under vitest) or from dist/src/ (after a build), so the root is found by
 * walking up to the nearest package.json that names this package rather than by a fixed "../..".
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'flopledger';

let cachedRoot: string | undefined;

export function packageRoot(): string {
  cachedRoot ??= findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  return cachedRoot;
}

/** The directory of the bundled model presets (`<root>/models`). */
export function presetsDir(): string {
  return join(packageRoot(), 'models');
}

function findPackageRoot(startDir: string): string {
  for (let dir = startDir; ; dir = dirname(dir)) {
    if (namesThisPackage(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) {
      throw new Error(`package root: no package.json named "${PACKAGE_NAME}" above ${startDir}`);
    }
  }
}

function namesThisPackage(manifestPath: string): boolean {
  if (!existsSync(manifestPath)) return false;
  try {
    const manifest: unknown = JSON.parse(readFileSync(manifestPath, 'utf8'));
    return typeof manifest === 'object' && manifest !== null && (manifest as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    // A broken package.json of some enclosing project is not ours; keep walking up.
    return false;
  }
}
