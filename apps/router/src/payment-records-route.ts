import type { ErrorCode } from "@pps/domain";
import { createRoute, errorResponses, json, noQuery, z } from "@pps/runtime";
import { adminSecurity } from "./router-api.ts";

// What the operator routes that show one payment's routing rows (its decisions and attempts, its operation
// calls) share: the route around them, and the columns of rows queried on a schedule.

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
export const timestamp = z.string().openapi({ format: "date-time" });

/** GET {path} of one payment, for operators: the payment id in the path, no query, `schema` as the answer. */
export function paymentRecordsRoute<P extends string, S extends z.ZodType>(route: {
  path: P;
  operationId: string;
  summary: string;
  description: string;
  schema: S;
  errors: readonly ErrorCode[];
}) {
  return createRoute({
    method: "get",
    path: route.path,
    operationId: route.operationId,
    tags: ["Routing"],
    summary: route.summary,
    security: adminSecurity,
    request: {
      params: z.object({
        paymentId: z
          .string()
          .openapi({ description: "The payment id (pay_…).", example: "pay_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX" }),
      }),
      query: noQuery,
    },
    responses: {
      200: { description: route.description, content: json(route.schema) },
      ...errorResponses(route.errors),
    },
  });
}

/** The last columns of a row queried on a schedule (an attempt, an operation call), as the operator API shows them. */
export function queriedRowShape(nextQueryAtDescription?: string) {
  const nextQueryAt = timestamp.nullable();
  return {
    failureCode: z.string().nullable(),
    lastError: z.string().nullable(),
    queryCount: z.int(),
    nextQueryAt: nextQueryAtDescription ? nextQueryAt.openapi({ description: nextQueryAtDescription }) : nextQueryAt,
    createdAt: timestamp,
    updatedAt: timestamp,
    completedAt: timestamp.nullable(),
  };
}

/** The values of queriedRowShape's columns. */
export function queriedRowView(row: {
  failureCode: string | null;
  lastError: string | null;
  queryCount: number;
  nextQueryAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}) {
  return {
    failureCode: row.failureCode,
    lastError: row.lastError,
    queryCount: row.queryCount,
    nextQueryAt: iso(row.nextQueryAt),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    completedAt: iso(row.completedAt),
  };
}
