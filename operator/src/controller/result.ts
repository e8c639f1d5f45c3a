/**
 * What one reconcile asks of the controller (conventions 4.3 rule 4, controller-runtime's
 * `Result` and `TerminalError`):
 * - `done`: converged; forget the key's backoff;
 * - `requeueAfter`: come back later to poll something external (no backoff);
 * - `retry`: a transient failure; requeue with the key's exponential backoff;
 * - `terminal`: retrying cannot help (e.g. an invalid spec); forget the key until it changes.
 */
export type ReconcileResult =
  | { readonly kind: 'done' }
  | { readonly kind: 'requeueAfter'; readonly ms: number }
  | { readonly kind: 'retry'; readonly error: unknown }
  | { readonly kind: 'terminal'; readonly error: unknown };

/** The converged result. */
export const DONE: ReconcileResult = Object.freeze({ kind: 'done' });
