from poolwise.cli import main

raise SystemExit(main())
