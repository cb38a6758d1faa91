export type IpamErrorCode = 'Exhausted' | 'Conflict' | 'InUse' | 'NoPool' | 'Invalid' | 'NotFound';

export class IpamError extends Error {
  constructor(
    readonly code: IpamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IpamError';
  }
}
