/** What an API key may do. ADMIN implies every other scope. */
export const API_SCOPES = ['INGEST', 'READ', 'WRITE', 'BILLING', 'ADMIN'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export function hasScope(granted: readonly ApiScope[], needed: ApiScope): boolean {
  return granted.includes('ADMIN') || granted.includes(needed);
}
