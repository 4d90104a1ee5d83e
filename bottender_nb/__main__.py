"""``python -m bottender_nb console BOT``."""

from .console import main

raise SystemExit(main())
