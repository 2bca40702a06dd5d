// `pnpm --filter @pps/messaging docs`: writes docs/events/asyncapi.json and one JSON Schema per event.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildAsyncApi, eventJsonSchema } from "../asyncapi.ts";
import { ALL_EVENTS } from "../events/index.ts";
import { eventKey } from "../registry.ts";

const out = fileURLToPath(new URL("../../../../docs/events/", import.meta.url));
rmSync(`${out}schemas`, { recursive: true, force: true });
mkdirSync(`${out}schemas`, { recursive: true });
writeFileSync(`${out}asyncapi.json`, `${JSON.stringify(buildAsyncApi(), null, 2)}\n`);
for (const e of ALL_EVENTS)
  writeFileSync(
    `${out}schemas/${eventKey(e.type, e.version)}.json`,
    `${JSON.stringify(eventJsonSchema(e), null, 2)}\n`,
  );
console.log(`wrote ${out}asyncapi.json and ${ALL_EVENTS.length} event schemas`);
