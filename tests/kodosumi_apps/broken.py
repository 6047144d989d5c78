"""An app whose module fails at import with something other than ImportError (a missing
setting), as real apps do: start-up must stop with one line naming it."""

import os

API_KEY = os.environ["LOCKSTEP_TEST_SURELY_UNSET_API_KEY"]
