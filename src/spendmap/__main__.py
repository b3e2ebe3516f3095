from spendmap.cli import main

raise SystemExit(main())
