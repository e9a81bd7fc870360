month,arr
2027-01,1000
