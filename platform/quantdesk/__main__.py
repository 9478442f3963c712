"""``python -m quantdesk``: the command line, for processes quantdesk starts itself."""

from quantdesk.cli import main

raise SystemExit(main())
