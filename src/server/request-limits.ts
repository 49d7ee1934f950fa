import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  GraphQLError,
  Kind,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';
import { BadInputError } from '../errors';

/**
 * What one GraphQL document may ask for. Without these, one request could fan out to
 * 59 MB of nested connections, store 100,000 events through aliases, or spend seconds in the
 * parser and validator before anything checks who sent it.
 */
export const REQUEST_LIMITS = {
  /** Deepest shipped query: `messages.edges.node.trigger.steps.template.subject` = 7. */
  maxDepth: 7,
  maxAliases: 10,
  /** Counts the query text only; variables (a 1,000-event batch) are not tokens. */
  maxTokens: 10_000,
  maxDirectives: 20,
} as const;

/**
 * Token cap applied by graphql-js's own parser. graphql-armor's Apollo `maxTokens` plugin is
 * not used: it throws from `parsingDidStart`, outside Apollo's parse `try`, so the refusal
 * is an HTTP 500, and its `unexpectedErrorProcessingRequest` hook relabels every unexpected
 * pipeline error as `GRAPHQL_VALIDATION_FAILED` with the raw message, which would carry
 * internal text past our error masking. Here the parser stops after the limit and Apollo
 * answers 400 `GRAPHQL_PARSE_FAILED`.
 */
export const PARSE_OPTIONS: ParseOptions = { maxTokens: REQUEST_LIMITS.maxTokens };

const armor = new ApolloArmor({
  maxDepth: { n: REQUEST_LIMITS.maxDepth, flattenFragments: true },
  maxAliases: { n: REQUEST_LIMITS.maxAliases },
  maxDirectives: { n: REQUEST_LIMITS.maxDirectives },
  maxTokens: { enabled: false },
  // Counts fields without knowing `first`; a field-aware cost limit would replace it.
  costLimit: { enabled: false },
  // Suggestions help integrators; introspection is what production switches off.
  blockFieldSuggestion: { enabled: false },
}).protect();

/**
 * Depth, alias and directive limits as validation rules. Apollo reports their failures as
 * 400 `GRAPHQL_VALIDATION_FAILED`; graphql-ws runs the same rules in `prepareWsOperation`.
 */
export const limitValidationRules: readonly ValidationRule[] = armor.validationRules;

const ONE_PER_REQUEST = 'trackBatch';

/**
 * `trackBatch` accepts at most 1,000 events, so each alias of it in one document would
 * multiply that limit. Counts the distinct response keys of top-level `trackBatch` fields,
 * including those inside fragments, and returns the refusal for more than one.
 */
export function checkOneTrackBatch(
  document: DocumentNode,
  operation: OperationDefinitionNode,
): BadInputError | null {
  if (operation.operation !== 'mutation') return null;

  const responseKeys = new Set<string>();
  const visitedFragments = new Set<string>();
  const collect = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === ONE_PER_REQUEST)
          responseKeys.add(selection.alias?.value ?? selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else if (!visitedFragments.has(selection.name.value)) {
        visitedFragments.add(selection.name.value);
        const fragment = document.definitions.find(
          (definition) =>
            definition.kind === Kind.FRAGMENT_DEFINITION &&
            definition.name.value === selection.name.value,
        );
        if (fragment?.kind === Kind.FRAGMENT_DEFINITION) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);

  if (responseKeys.size <= 1) return null;
  return new BadInputError(
    ONE_PER_REQUEST,
    `one trackBatch per request (found ${responseKeys.size}); send batches as separate requests`,
  );
}

/** Apollo side of `checkOneTrackBatch`: refuses the request (400) before anything runs. */
export const oneTrackBatchPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ document, operation, response }) {
        if (!operation) return;
        const refusal = checkOneTrackBatch(document, operation);
        if (!refusal) return;
        // Plugin-hook errors default to HTTP 500 unless the status is set (STACK.md pitfall 20).
        response.http.status = 400;
        throw refusal;
      },
    };
  },
};

/** The parts of a graphql-ws subscribe message that `prepareWsOperation` reads. */
export interface WsOperationPayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/**
 * graphql-ws runs outside Apollo, so its operations get the same parse, validation and
 * per-request limits here. Returns the execution arguments, or the coded errors to send
 * (`GRAPHQL_PARSE_FAILED`, `GRAPHQL_VALIDATION_FAILED`, or `BAD_USER_INPUT` for a second
 * `trackBatch`). Never throws for bad input: a throw would close the whole socket.
 */
export function prepareWsOperation(
  schema: GraphQLSchema,
  payload: WsOperationPayload,
): ExecutionArgs | GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(payload.query, PARSE_OPTIONS);
  } catch (err) {
    if (err instanceof GraphQLError) return [withCode(err, 'GRAPHQL_PARSE_FAILED')];
    throw err;
  }

  const validationErrors = validate(schema, document, [...specifiedRules, ...limitValidationRules]);
  if (validationErrors.length > 0)
    return validationErrors.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));

  const operation = getOperationAST(document, payload.operationName ?? undefined);
  if (!operation) {
    const message = payload.operationName
      ? `unknown operation named "${payload.operationName}"`
      : 'the document has several operations: send operationName';
    return [new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
  }

  const refusal = checkOneTrackBatch(document, operation);
  if (refusal) return [refusal];

  return {
    schema,
    document,
    operationName: payload.operationName,
    variableValues: payload.variables,
  };
}

/** The same error with `code` set the way Apollo's own error classes set it. */
function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}
