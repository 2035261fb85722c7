from traymail.cli import main

raise SystemExit(main())
