import { Tx, rows } from '../../platform/database';
import type { PreviousStepCondition } from '../triggers/trigger-definition';
import type { EnrollmentRow } from './enrollment.engine';

/**
 * Whether the run's message of step `index` fared as `condition` asks, judged now (when the
 * later step is due). A step that produced no message (skipped, suppressed) was not
 * delivered, opened or clicked. Opens and clicks by machines (mail privacy proxies, link
 * scanners) never set `opened_at` or `clicked_at`, so they do not count.
 */
export async function previousStepHolds(
  tx: Tx,
  run: Pick<EnrollmentRow, 'tenant_id' | 'id'>,
  index: number,
  condition: PreviousStepCondition,
): Promise<boolean> {
  const [m] = await rows<{
    status: string;
    delivered_at: Date | null;
    opened_at: Date | null;
    clicked_at: Date | null;
  }>(
    tx,
    `SELECT status, delivered_at, opened_at, clicked_at FROM messages
     WHERE tenant_id = $1 AND enrollment_id = $2 AND step_index = $3`,
    [run.tenant_id, run.id, index],
  );
  const delivered =
    !!m &&
    (m.delivered_at !== null || ['SENT', 'DELIVERED', 'OPENED', 'CLICKED'].includes(m.status));
  const opened = !!m && (m.opened_at !== null || m.clicked_at !== null);
  const clicked = !!m && m.clicked_at !== null;
  switch (condition) {
    case 'DELIVERED':
      return delivered;
    case 'NOT_DELIVERED':
      return !delivered;
    case 'OPENED':
      return opened;
    case 'NOT_OPENED':
      return !opened;
    case 'CLICKED':
      return clicked;
    case 'NOT_CLICKED':
      return !clicked;
  }
}
