/**
 * Loaded once per workflow sandbox before any run, as the bundle's `preloadModules` (see
 * `src/workflow-bundle.ts`): the proof verifier, the Ed25519 and base64url code under it and the
 * verifier's table of multiples of the base point are then shared by every run the sandbox holds.
 * Without it each run loads its own copy, and its first decision rebuilds that table: about
 * 20 ms of the worker's workflow thread per click, when every click is on a different run.
 * Nothing here is per run: the modules hold constants and that table, a pure function of the curve.
 * The known-answer check builds the table, and a verifier that gives a wrong answer stops the worker.
 */
import { selfTestVerifier } from './proof';

selfTestVerifier();
