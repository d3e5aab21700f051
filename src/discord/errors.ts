/** A client error in a payload or request, carrying the path of the offending field (e.g. `body[3].d.user.id`). */
export class PayloadError extends Error {
  override name = 'PayloadError';
  constructor(
    public readonly path: string,
    problem: string,
  ) {
    super(`${path} ${problem}`);
  }
}
