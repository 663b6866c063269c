//! Properties of the wire as a client or server meets it: every payload type decodes any JSON
//! without panicking and survives its own encoding, unknown error codes stay readable, and every
//! validator's answers are stable. (Each module's own tests pin its examples.)

mod decoders;
mod validators;
