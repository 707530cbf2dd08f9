import sys

if sys.argv[1:2] == ["ucr"]:
    from .ucr import main

    sys.exit(main(sys.argv[2:]))

if sys.argv[1:2] == ["load"]:
    from .load import main

    sys.exit(main(sys.argv[2:]))

from .run import main

sys.exit(main())
