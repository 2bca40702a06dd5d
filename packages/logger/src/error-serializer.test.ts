import { describe, expect, it } from "vitest";
import { postgresMessage } from "./database-error.ts";
import { serializeError } from "./error-serializer.ts";

/** A server error as postgres.js builds it: the protocol's fields, enumerable, on an Error. */
function postgresError(fields: Record<string, string>): Error {
  const err = Object.assign(new Error(fields.message), { severity: "ERROR", ...fields });
  err.name = "PostgresError";
  return err;
}

describe("postgresMessage", () => {
  it("replaces a quoted value, even one holding quotes itself", () => {
    expect(
      postgresMessage(postgresError({ code: "22P02", message: 'invalid input syntax for type integer: "sk_1"' })),
    ).toBe('invalid input syntax for type integer: "[redacted]"');
    expect(
      postgresMessage(postgresError({ code: "22P02", message: 'invalid input syntax for type uuid: "a" b "c"' })),
    ).toBe('invalid input syntax for type uuid: "[redacted]"');
    expect(
      postgresMessage(
        postgresError({ code: "22003", message: 'value "99999999999" is out of range for type integer' }),
      ),
    ).toBe('value "[redacted]" is out of range for type integer');
    expect(postgresMessage(postgresError({ code: "XX000", message: 'unterminated "quote' }))).toBe(
      'unterminated "[redacted]"',
    );
  });

  it("keeps the messages that only name schema objects", () => {
    const message = 'duplicate key value violates unique constraint "merchants_pkey"';
    expect(postgresMessage(postgresError({ code: "23505", message }))).toBe(message);
  });

  it("hides undecodable bytes, save a lone NUL", () => {
    expect(
      postgresMessage(
        postgresError({ code: "22021", message: 'invalid byte sequence for encoding "UTF8": 0xe2 0x82' }),
      ),
    ).toBe('invalid byte sequence for encoding "[redacted]": 0x…');
    expect(
      postgresMessage(postgresError({ code: "22021", message: 'invalid byte sequence for encoding "UTF8": 0x00' })),
    ).toContain(": 0x00");
  });
});

describe("serializeError", () => {
  it("keeps an ordinary error's message, stack, fields and cause, and its code as errorCode", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED", port: 5432 });
    const err = new Error("could not start", { cause });
    const out = serializeError(err);
    expect(out).toMatchObject({
      type: "Error",
      message: "could not start",
      cause: { type: "Error", errorCode: "ECONNREFUSED", port: 5432 },
    });
    expect(out.stack).toBe(err.stack);
  });

  it("drops the fields that carry values from any error", () => {
    const err = Object.assign(new Error("bad"), {
      detail: "Key (id)=(x)",
      where: "parameter $1 = 'x'",
      params: ["x"],
      parameters: ["x"],
      query: "q",
      hint: "h",
      retryable: true,
    });
    expect(serializeError(err)).toEqual({ type: "Error", message: "bad", stack: err.stack, retryable: true });
  });

  it("survives a cycle of causes", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(serializeError(a)).toMatchObject({
      message: "a",
      cause: { message: "b", cause: { message: "[circular]" } },
    });
  });

  it("serializes each error an AggregateError holds", () => {
    const out = serializeError(new AggregateError([new Error("one"), new Error("two")], "both failed"));
    expect(out.errors).toMatchObject([{ message: "one" }, { message: "two" }]);
  });
});
