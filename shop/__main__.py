from shop.cli import main

main()
