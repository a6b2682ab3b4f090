# placeholder: the runtime (issue 17, Python half) replaces this file when the branches merge
