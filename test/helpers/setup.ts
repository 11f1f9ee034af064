/**
 * Loaded before every test file (scripts/test.mjs): property tests use one fixed seed so that
 * CI is deterministic; HOOD_FC_SEED picks another (and a failure prints the seed to replay).
 */
import fc from "fast-check";

fc.configureGlobal({ seed: Number(process.env.HOOD_FC_SEED ?? 20261129) });
