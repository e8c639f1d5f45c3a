/**
 * What the agent refuses to read from, whatever a load request says: link-local and cloud
 * metadata addresses (169.254.0.0/16, fd00:ec2::254, metadata.google.internal — the credential
 * endpoints of every cloud), hosts outside `allowed_hosts` when it is set, and local files outside
 * the allowed roots. Addresses are checked on the resolved IP at connect time (see
 * {@link guardedLookup}), so a DNS name that resolves to a metadata address is refused too.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { realpath } from 'node:fs/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { relative, sep } from 'node:path';
import { AgentError, AgentErrorCode } from './errors.js';

const BLOCKED = new BlockList();
BLOCKED.addSubnet('169.254.0.0', 16, 'ipv4');
BLOCKED.addSubnet('fe80::', 10, 'ipv6');
BLOCKED.addAddress('fd00:ec2::254', 'ipv6');
BLOCKED.addSubnet('::ffff:169.254.0.0', 112, 'ipv6');
BLOCKED.addAddress('0.0.0.0', 'ipv4');

const BLOCKED_NAMES = new Set(['metadata.google.internal', 'metadata', 'instance-data']);

/** Whether an IP address is one the agent never connects to. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function refused(what: string): AgentError {
  return new AgentError(AgentErrorCode.SOURCE_REFUSED, `storage_uri refused: ${what}`);
}

/** Checks a host name (before any connection): metadata names, literal blocked IPs, allowed_hosts. */
export function assertHostAllowed(hostname: string, allowedHosts: readonly string[]): void {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (BLOCKED_NAMES.has(host) || isBlockedAddress(host)) {
    throw refused(`'${host}' is a link-local or metadata address`);
  }
  if (allowedHosts.length > 0 && !allowedHosts.some((h) => h.toLowerCase() === host)) {
    throw refused(`host '${host}' is not in allowed_hosts`);
  }
}

/**
 * A `lookup` for sockets (http.Agent, the AWS SDK's handler): resolves as usual and fails the
 * connection when any resolved address is blocked, so DNS cannot smuggle a metadata address.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error !== null) {
      callback(error, '', 0);
      return;
    }
    const blocked = addresses.find((a) => isBlockedAddress(a.address));
    if (blocked !== undefined) {
      callback(refused(`'${hostname}' resolves to a link-local or metadata address`), '', 0);
      return;
    }
    if (options.all === true) {
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      return;
    }
    const first = addresses[0];
    if (first === undefined) callback(new Error(`no address for ${hostname}`), '', 0);
    else callback(null, first.address, first.family);
  });
};

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/**
 * Resolves a local path (following links) and requires it to be inside one of the allowed roots
 * (also resolved), so a link inside a root cannot point out of it.
 */
export async function assertPathAllowed(
  path: string,
  roots: readonly string[],
  shownAs: string,
): Promise<string> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    // A missing path outside the roots must not reveal whether it exists: check the roots first.
    if (!(await insideAny(path, roots))) throw refused(`'${shownAs}' is outside the allowed roots`);
    throw new AgentError(AgentErrorCode.ARTEFACT_NOT_FOUND, `'${shownAs}' does not exist`);
  }
  if (!(await insideAny(real, roots))) throw refused(`'${shownAs}' is outside the allowed roots`);
  return real;
}

async function insideAny(path: string, roots: readonly string[]): Promise<boolean> {
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => root);
    if (isInside(realRoot, path)) return true;
  }
  return false;
}
