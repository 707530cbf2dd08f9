import sys

if len(sys.argv) > 1 and sys.argv[1] == "ucr":
    from .ucr import main

    sys.exit(main(sys.argv[2:]))

from .run import main

sys.exit(main())
