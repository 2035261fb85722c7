from traymail.console import main

raise SystemExit(main())
