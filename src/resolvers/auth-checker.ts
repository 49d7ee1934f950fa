import type { AuthChecker } from 'type-graphql';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import { ApiScope, hasScope } from '../tenancy/scopes';
import type { RequestContext } from './context';

/** The role that only the operator token has. */
export const OPERATOR = 'OPERATOR';

/**
 * `@Authorized(...)` check: `OPERATOR` needs the operator token; a scope needs a tenant key
 * holding it (ADMIN holds all). Missing credentials are UNAUTHENTICATED, a key without the
 * scope is FORBIDDEN.
 */
export const authChecker: AuthChecker<RequestContext> = ({ context }, roles) => {
  const principal = context.principal;
  if (!principal) throw new UnauthenticatedError();
  if (roles.includes(OPERATOR)) {
    if (principal.kind !== 'operator')
      throw new ForbiddenError('this operation needs the operator token');
    return true;
  }
  if (principal.kind !== 'tenant')
    throw new ForbiddenError('this operation needs a tenant API key');
  const needed = roles as ApiScope[];
  if (needed.length === 0 || needed.some((scope) => hasScope(principal.tenant.scopes, scope)))
    return true;
  throw new ForbiddenError(`this operation needs an API key with scope ${needed.join(' or ')}`);
};
