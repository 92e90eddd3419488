import sys

from gridjobs.cli import main

sys.exit(main())
