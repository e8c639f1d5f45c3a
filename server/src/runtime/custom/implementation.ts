/**
 * What a custom runtime's `implementation` names, and where that module is. Two forms:
 * - a module in the model folder: a relative path ending in a JavaScript or TypeScript extension
 *   (`./model.mjs`, `model.js`, `lib/runtime.ts`), resolved against the model folder and refused if
 *   it leads outside it (symbolic links included);
 * - an installed package: a lower-case npm package name with an optional subpath
 *   (`my-runtime`, `@acme/runtimes/text`), resolved from the server's installation.
 * Either may end in `#ExportName` to pick a named export instead of the default one. Python class
 * paths (`models.MyCustomRuntime`) have upper-case letters, so they never read as packages.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, ServerError } from '../../errors.js';

/** A parsed custom `implementation`. */
export type Implementation =
  | { readonly kind: 'file'; readonly path: string; readonly exportName?: string }
  | { readonly kind: 'package'; readonly specifier: string; readonly exportName?: string };

const MODULE_EXTENSION = /\.(?:m?js|cjs|m?ts)$/;
// npm's rules for new package names: lower case, URL-safe, optional @scope/.
const PACKAGE = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*(?:\/[A-Za-z0-9._~/-]+)?$/;
const EXPORT_NAME = /^[A-Za-z_$][\w$]*$/;

/** Parses an `implementation` as a custom runtime's, or returns undefined if it is not one. */
export function parseImplementation(implementation: string): Implementation | undefined {
  const hash = implementation.lastIndexOf('#');
  const target = hash === -1 ? implementation : implementation.slice(0, hash);
  const exportName = hash === -1 ? undefined : implementation.slice(hash + 1);
  if (exportName !== undefined && !EXPORT_NAME.test(exportName)) return undefined;
  const named = exportName === undefined ? {} : { exportName };
  if (target.startsWith('./') || target.startsWith('../') || MODULE_EXTENSION.test(target)) {
    return MODULE_EXTENSION.test(target) ? { kind: 'file', path: target, ...named } : undefined;
  }
  if (PACKAGE.test(target) && !target.includes('..')) {
    return { kind: 'package', specifier: target, ...named };
  }
  return undefined;
}

function loadFailed(source: string, message: string): ServerError {
  return new ServerError(ErrorCode.MODEL_LOAD_FAILED, `${source}: implementation: ${message}`);
}

/** Whether `child` is `folder` or lies below it. */
function isInside(folder: string, child: string): boolean {
  const rel = relative(folder, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The URL to import for a module in the model folder. The file's modification time goes in the
 * query, so a reload after the file changed imports the new code (Node caches modules by URL),
 * and a reload of an unchanged file reuses the module already imported.
 */
export async function resolveModuleFile(
  path: string,
  where: { readonly folder: string; readonly source: string },
): Promise<string> {
  if (isAbsolute(path)) {
    throw loadFailed(where.source, 'a module path must be relative to the model folder');
  }
  const folder = await realpath(where.folder);
  const lexical = resolve(folder, path);
  if (!isInside(folder, lexical)) {
    throw loadFailed(where.source, `'${path}' is outside the model folder`);
  }
  const real = await realpath(lexical).catch(() => undefined);
  if (real === undefined) {
    throw loadFailed(where.source, `'${path}' does not exist in the model folder`);
  }
  if (!isInside(folder, real)) {
    throw loadFailed(where.source, `'${path}' leads outside the model folder (symbolic link)`);
  }
  const info = await stat(real);
  if (!info.isFile()) throw loadFailed(where.source, `'${path}' is not a file`);
  const url = pathToFileURL(real);
  url.searchParams.set('mtime', String(Math.trunc(info.mtimeMs)));
  return url.href;
}

/** The URL of an installed package's module, resolved as the server resolves its own imports. */
export function resolvePackage(specifier: string, source: string): string {
  try {
    return import.meta.resolve(specifier);
  } catch {
    throw loadFailed(
      source,
      `package '${specifier}' is not installed (a custom runtime is a JavaScript module in the model folder, e.g. ./model.mjs, or a package installed with the server)`,
    );
  }
}
