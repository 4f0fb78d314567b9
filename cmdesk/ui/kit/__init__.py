"""The kit every screen is written with (see docs/desktop.md, "How a screen acts"):

- `actions`: `AppContext` (what a screen works with), `Action` and its constructors `command` (queued),
  `online`, `read`, `task`; the `CommandWatcher` that tells of every refused command;
- `table`: `Column`, `Query` and `PagedTableModel`, the one model of every list (paged from the cache,
  sorted and filtered in SQL), and the table views over it;
- `forms`: `FormDialog`, `FieldMessage`, `Notice`, `FormGrid` and the forms' small helpers;
- `messages`: the failures in Spanish and the message boxes;
- `labels`: the Spanish names of the enumerations, and the color tags' swatches.
"""
