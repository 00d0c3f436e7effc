import sys

from esl_apps.cli import main

sys.exit(main())
