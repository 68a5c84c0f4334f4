import sys

from executor_dind.cli import main

sys.exit(main())
