import { IANAZone } from 'luxon';
import { InputProblem } from '../errors';

/** Checks an IANA time zone name such as `Europe/Berlin`; throws `InputProblem` at `path`. */
export function checkTimezone(zone: string, path: string): string {
  if (!IANAZone.isValidZone(zone)) {
    const shown = zone.length > 60 ? `${zone.slice(0, 60)}…` : zone;
    throw new InputProblem(path, `"${shown}" is not an IANA time zone name (e.g. Europe/Berlin)`);
  }
  return zone;
}
