/** HandleExists: an assignment told the handle was new (`AssignArgs.newHandle`) found it held already; nothing was written. */
export type IpamErrorCode = 'Exhausted' | 'Conflict' | 'InUse' | 'NoPool' | 'Invalid' | 'NotFound' | 'HandleExists';

export class IpamError extends Error {
  constructor(
    readonly code: IpamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IpamError';
  }
}
