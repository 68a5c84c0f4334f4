"""Read and write KRM ResourceLists and YAML streams, by job: bytes and text (`text`), composed YAML nodes and
their values (`nodes`, `dump`), anchors and aliases (`aliases`), the objects read (`item`), reading (`read`,
`files`), what Kubernetes' own decoder would read differently (`consumer`) and writing (`write`).

Untouched items leave as the text they arrived in: the input is composed once with libyaml (no Python objects
are built for items nobody looks at), each item keeps its source slice, and only items the function creates or
changes are dumped. That keeps kpt's files byte-identical and the function at the speed of the YAML parser.

Bytes in are never corrupted bytes out: a byte order mark and CR line breaks are normalised before parsing (YAML
reads them as nothing and as line breaks), anchors are followed per item (an item keeps its text unless it uses an
alias to an anchor outside itself), alias bombs and recursive aliases are refused before anything expands them,
and a failure echoes the input ResourceList as it came, with the results added.
"""
