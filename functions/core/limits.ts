/**
 * Every length, size and depth cap on text that leaves the canary, in one place. Text from the
 * platform (a response body, a header, a database error, a catalog name) is scrubbed of secrets
 * and control characters before any of these cuts (functions/core/text.ts), never after: a cut
 * first could leave the prefix of a secret where no scrubber recognises it. README.md
 * ("What the platform's text becomes") lists them for users.
 */

/** A result's `summary`: one sentence, with room for a quoted platform message. */
export const SUMMARY_MAX_CHARS = 2_000;

/** Each string in a result's `evidence` (values and keys alike are cut to their cap). */
export const EVIDENCE_STRING_MAX_CHARS = 4_000;

/** Each key in a result's `evidence`. */
export const EVIDENCE_KEY_MAX_CHARS = 200;

/** Objects and arrays nest at most this deep in a result's `evidence`; deeper values are replaced by a note. */
export const EVIDENCE_MAX_DEPTH = 12;

/**
 * A result's `evidence` as JSON (UTF-8 bytes). Past it, the largest fields are replaced by a note
 * of their size (as for an alert), then by a preview.
 */
export const EVIDENCE_MAX_BYTES = 64 * 1024;

/**
 * JSON from the platform (the HTTP adapter's `json`): bodies nested deeper than this are not
 * parsed. Real answers (FastAPI errors, the health body) nest three or four levels.
 */
export const PLATFORM_JSON_MAX_DEPTH = 64;

/** JSON from the platform larger than this (UTF-8 bytes) is not parsed, whatever `thresholds.maxResponseBytes` allows. */
export const PLATFORM_JSON_MAX_BYTES = 1024 * 1024;

/** The webhook receiver's `detail` as quoted in a summary and evidence. */
export const WEBHOOK_DETAIL_MAX_CHARS = 200;

/** The health body's `status`, each dependency name and state. */
export const HEALTH_TEXT_MAX_CHARS = 100;

/** Dependencies read from the health body. */
export const HEALTH_MAX_DEPENDENCIES = 20;

/** SNS's limit for one message, body and attributes together (and for one PublishBatch call). */
export const SNS_MAX_BYTES = 256 * 1024;

/** An alert's SNS subject: printable ASCII, under SNS's 100 characters. */
export const ALERT_SUBJECT_MAX_CHARS = 99;

/** An alert's `note` and `firstStep` (ours, but read back from the state store). */
export const ALERT_TEXT_MAX_CHARS = 2_000;

/** PagerDuty Events API v2: `payload.summary` (published limit). */
export const PAGERDUTY_SUMMARY_MAX_CHARS = 1024;

/** PagerDuty Events API v2: `dedup_key` (published limit). */
export const PAGERDUTY_DEDUP_KEY_MAX_CHARS = 255;

/**
 * PagerDuty Events API v2: `payload.source`, `component`, `group`, `class` and a link's text.
 * PagerDuty publishes no limit for these; ours keeps them to one short line.
 */
export const PAGERDUTY_FIELD_MAX_CHARS = 255;

/** A link's `href` in a PagerDuty event. */
export const PAGERDUTY_LINK_MAX_CHARS = 2_048;

/**
 * PagerDuty Events API v2: the whole event (published as 512 KB; read as 512,000 bytes to be
 * safe whichever kilobyte is meant). `custom_details.evidence` is trimmed to fit.
 */
export const PAGERDUTY_EVENT_MAX_BYTES = 512_000;

/** PagerDuty's answer to a refused event, as quoted in a delivery failure. */
export const PAGERDUTY_REASON_MAX_CHARS = 300;
