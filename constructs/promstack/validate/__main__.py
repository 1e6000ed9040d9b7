from promstack.validate.cli import main

raise SystemExit(main())
