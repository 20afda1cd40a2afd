from mytrack_service.cli import main

raise SystemExit(main())
