// Test settings come from the environment that scripts/test.sh prepares; defaults match this machine.
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/pps_test";
export const TEST_KAFKA_BROKERS = process.env.TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:9092";
/** Each test run gets its own topics on the shared broker. Set once per run by the global setup. */
export const TEST_TOPIC_PREFIX = process.env.TEST_TOPIC_PREFIX ?? "test.";
/** The catalogue's topic names (unprefixed), set by the global setup so helpers can create a prefix's topics. */
export const TEST_TOPIC_NAMES = (process.env.TEST_TOPIC_NAMES ?? "").split(",").filter(Boolean);
