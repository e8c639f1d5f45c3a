/** The CRD files (`*.yaml`) of a folder, sorted. */
export function crdFiles(dir: string): string[];
/** The differences between crds/ and the chart's copies, one line each (none when in step). */
export function drift(): string[];
