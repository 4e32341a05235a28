"""hedgetest: end-to-end harness for the Hedge resolver (real nsd, scripted fake upstream,
`hedge compile` + `hedge serve`, dig/kdig/dnspython clients). See tests/e2e/README.md."""
from . import client, util  # noqa: F401
from .nsd import Nsd  # noqa: F401
from . import hedge  # noqa: F401,E402
from .case import E2ECase, STANDARD_LISTS, CORPUS_DIR, main  # noqa: F401,E402
from .fakeupstream import FakeUpstream, Step, POISON_A  # noqa: F401,E402
