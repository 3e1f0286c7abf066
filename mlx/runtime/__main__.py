import sys

from mlx.runtime.bootstrap import main

sys.exit(main())
