"""`python -m dockercloud_operator` is the `dockercloud-operator` command."""

import sys

from dockercloud_operator.cli.main import main

sys.exit(main())
