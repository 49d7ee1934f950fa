import { IANAZone } from 'luxon';
import { InputProblem } from '../errors';

/** Checks an IANA time zone name such as `Europe/Berlin`; throws `InputProblem` at `path`. */
export function checkTimezone(zone: string, path: string): string {
  if (!IANAZone.isValidZone(zone)) {
    throw new InputProblem(path, `"${zone}" is not an IANA time zone name (e.g. Europe/Berlin)`);
  }
  return zone;
}
