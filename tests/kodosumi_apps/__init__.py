"""kodosumi-style apps for the compatibility suite (``tests/test_kodosumi.py``), written from
kodosumi's documentation and documented behaviour: its examples (a HITL demo, a form of every
element, a crew, sync and async runners, uploads, mock services), the locks guide, the
develop guide and its own test apps. Each keeps kodosumi's code as it is; only the import
lines differ, and each says what it was. ``seen`` lists are the suite's probes: what a
handler was handed."""
