from curvewatch.cli import main

raise SystemExit(main())
