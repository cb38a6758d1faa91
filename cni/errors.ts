// CNI spec error codes (1.0 §Error) and the error every plugin path throws.
export const CNI_CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  // CNI 1.1 STATUS: the plugin cannot serve ADD now.
  notAvailable: 50,
  // Plugin-specific codes start at 100.
  ipamFailure: 100,
  dataplaneFailure: 101,
  checkFailed: 102,
  datastoreFailure: 103,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
    this.name = 'CniError';
  }
}
