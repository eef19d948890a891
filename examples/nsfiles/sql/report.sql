select region, sum(amount) from sales group by region
