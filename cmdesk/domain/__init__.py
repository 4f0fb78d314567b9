"""Pure rules of the portal: no I/O, no database, no Qt. Everything here is testable with plain values."""
